"""The contact-description taxonomy: groups, descriptions, owners, guidance, versions and migrations.

A taxonomy file is YAML. Descriptions sit inside their group, or (flat form) in a top-level `descriptions`
list where each names its `group`. `migrations` maps ids of older versions to current ones so that labelled
data written against an older version stays comparable.
"""

from __future__ import annotations

import hashlib
import re
import unicodedata
from collections import Counter
from collections.abc import Iterable
from dataclasses import asdict, dataclass, field
from functools import cached_property
from pathlib import Path
from typing import Any

import yaml

from contactlens.errors import TaxonomyError

STATUSES = ("active", "retired")
_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.\-]*$")
MAX_LABEL = 200  # characters of a label as written in the data
_SLUG_LEN = 64


def is_id(text: str) -> bool:
    """True when `text` is safe as a description id: in URLs, YAML keys and file names."""
    return bool(_ID.match(text))


def slug(label: str) -> str:
    """The id-safe form of a label: accents dropped, lower case, runs of other characters as one '_'."""
    ascii_ = unicodedata.normalize("NFKD", label).encode("ascii", "ignore").decode("ascii")
    out = re.sub(r"[^a-z0-9]+", "_", ascii_.lower()).strip("_")[:_SLUG_LEN].strip("_")
    return out or "label"


def check_label(label: str) -> str | None:
    """Why `label` (already stripped) cannot be a label, or None when it can."""
    if not label:
        return "the label is empty"
    if len(label) > MAX_LABEL:
        return f"label '{label[:40]}...' is longer than {MAX_LABEL} characters"
    return None


def ids_for_labels(labels: Iterable[str]) -> dict[str, str]:
    """A deterministic id per distinct label.

    A label that is a valid id keeps itself. Any other label gets its slug; a slug that two labels share, or
    that another label holds as itself, gets a short suffix from a hash of the label (`card_payment-1a2b3c`).
    """
    distinct = sorted(set(labels))
    out = {lab: lab for lab in distinct if is_id(lab)}
    taken = set(out)
    others = [lab for lab in distinct if lab not in out]
    slugs = Counter(slug(lab) for lab in others)
    for lab in others:
        ident = slug(lab)
        salt = 0
        while ident in taken or slugs[slug(lab)] > 1 and ident == slug(lab):
            digest = hashlib.sha256(f"{lab}\x1f{salt}".encode()).hexdigest()[:6]
            ident, salt = f"{slug(lab)}-{digest}", salt + 1
        out[lab] = ident
        taken.add(ident)
    return out


@dataclass(frozen=True)
class Group:
    id: str
    name: str


@dataclass(frozen=True)
class Description:
    id: str
    name: str
    group: str
    owner: str = ""
    guidance: str = ""
    examples: tuple[str, ...] = ()
    status: str = "active"
    label: str = ""  # the label as the data writes it; the id when not given

    @property
    def active(self) -> bool:
        return self.status == "active"

    @property
    def raw_label(self) -> str:
        """The label data files use for this description: its `label`, else its id."""
        return self.label or self.id


@dataclass(frozen=True)
class Migration:
    source: str
    target: str
    since: str = ""
    reason: str = ""


@dataclass
class Taxonomy:
    """A validated taxonomy. Build it with `load`, `from_dict` or `from_labels`."""

    name: str
    version: str
    groups: list[Group]
    descriptions: dict[str, Description]
    migrations: list[Migration] = field(default_factory=list)

    @property
    def active_ids(self) -> list[str]:
        return [d.id for d in self.descriptions.values() if d.active]

    @property
    def group_names(self) -> dict[str, str]:
        return {g.id: g.name for g in self.groups}

    def group_of(self, description_id: str) -> Group:
        """The group holding a description."""
        gid = self.descriptions[description_id].group
        return next(g for g in self.groups if g.id == gid)

    def migrate(self, label: str) -> str:
        """Follow the migration map from an old id to the current one (chains allowed)."""
        mapping = {m.source: m.target for m in self.migrations}
        seen: set[str] = set()
        while label in mapping and label not in seen:
            seen.add(label)
            label = mapping[label]
        return label

    @property
    def known_labels(self) -> set[str]:
        """Every string `id_of` maps to a description: ids, labels and the sources of migrations."""
        return set(self.descriptions) | set(self.label_index) | {m.source for m in self.migrations}

    @cached_property
    def label_index(self) -> dict[str, str]:
        """Label as written in the data -> description id, for descriptions whose label is not their id."""
        return {d.label: d.id for d in self.descriptions.values() if d.label}

    def id_of(self, label: str) -> str:
        """The description id a label of the data stands for.

        An id is itself and a `label` its description's id; either may be an old id that a migration maps
        on. An unknown label comes back unchanged (stripped), for the caller to report.
        """
        label = label.strip()
        if label not in self.descriptions:
            label = self.label_index.get(label, label)
        return self.migrate(label)

    def to_dict(self) -> dict[str, Any]:
        """The nested YAML form."""
        groups = []
        for g in self.groups:
            descs = [
                {
                    k: (list(v) if k == "examples" else v)
                    for k, v in asdict(d).items()
                    if k != "group" and (k != "label" or v not in ("", d.id))
                }
                for d in self.descriptions.values()
                if d.group == g.id
            ]
            groups.append({"id": g.id, "name": g.name, "descriptions": descs})
        out: dict[str, Any] = {"name": self.name, "version": self.version, "groups": groups}
        if self.migrations:
            out["migrations"] = [
                {"from": m.source, "to": m.target, "since": m.since, "reason": m.reason}
                for m in self.migrations
            ]
        return out

    def save(self, path: Path) -> None:
        path.write_text(yaml.safe_dump(self.to_dict(), sort_keys=False, allow_unicode=True), encoding="utf-8")

    @classmethod
    def from_dict(cls, raw: Any, source: str = "taxonomy") -> Taxonomy:
        """Validate a parsed YAML document; raise TaxonomyError naming every problem's field and id."""
        errors: list[str] = []
        if not isinstance(raw, dict):
            raise TaxonomyError(f"{source}: expected a mapping with name, version and groups")
        name = _text(raw.get("name"))
        version = _text(raw.get("version"))
        if not name:
            errors.append("field 'name' is empty")
        if not version:
            errors.append("field 'version' is empty")
        groups, descs = _parse_groups(raw, errors)
        descriptions = _check_descriptions(descs, {g.id for g in groups}, errors)
        migrations = _parse_migrations(raw.get("migrations") or [], descriptions, errors)
        if not errors and not any(d.active for d in descriptions.values()):
            errors.append("no active description")
        if errors:
            more = f" (and {len(errors) - 3} more)" if len(errors) > 3 else ""
            raise TaxonomyError(f"{source}: " + "; ".join(errors[:3]) + more)
        return cls(name, version, groups, descriptions, migrations)

    @classmethod
    def from_labels(cls, labels: Iterable[str], name: str, version: str = "1") -> Taxonomy:
        """A flat taxonomy (one group) from the distinct labels of a data set, as they are written.

        Each description's `name` and `label` are the label; its id is the label when that is a valid id,
        else a slug of it (see `ids_for_labels`).

        Raises:
            TaxonomyError: an empty label or one longer than `MAX_LABEL` characters.
        """
        distinct = sorted({str(x).strip() for x in labels})
        for lab in distinct:
            problem = check_label(lab)
            if problem:
                raise TaxonomyError(f"{name}: {problem}")
        ids = ids_for_labels(distinct)
        group = Group("all", "All contacts")
        descs = {
            ids[lab]: Description(ids[lab], lab, group.id, label="" if ids[lab] == lab else lab)
            for lab in distinct
        }
        return cls(name, version, [group], dict(sorted(descs.items())))


def load(path: str | Path) -> Taxonomy:
    """Read and validate a taxonomy YAML file."""
    path = Path(path)
    try:
        raw = yaml.safe_load(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise TaxonomyError(f"{path}: no such file") from None
    except UnicodeDecodeError as exc:
        raise TaxonomyError(f"{path}: not UTF-8 text (byte {exc.start})") from None
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" line {mark.line + 1}" if mark else ""
        raise TaxonomyError(f"{path}:{where} is not valid YAML") from None
    if raw is None:
        raise TaxonomyError(f"{path}: the file is empty")
    return Taxonomy.from_dict(raw, source=str(path))


def _text(value: Any) -> str:
    return "" if value is None else str(value).strip()


def _parse_groups(raw: dict[str, Any], errors: list[str]) -> tuple[list[Group], list[dict[str, Any]]]:
    groups: list[Group] = []
    descs: list[dict[str, Any]] = []
    raw_groups = raw.get("groups")
    if not isinstance(raw_groups, list) or not raw_groups:
        errors.append("field 'groups' must be a non-empty list")
        return groups, descs
    for i, g in enumerate(raw_groups):
        if not isinstance(g, dict):
            errors.append(f"groups[{i}] must be a mapping")
            continue
        gid, gname = _text(g.get("id")), _text(g.get("name"))
        if not gid:
            errors.append(f"groups[{i}]: field 'id' is empty")
            continue
        if not gname:
            errors.append(f"group '{gid}': field 'name' is empty")
        groups.append(Group(gid, gname))
        for d in g.get("descriptions") or []:
            descs.append({**d, "group": gid} if isinstance(d, dict) else {"_bad": d})
    for d in raw.get("descriptions") or []:  # flat form: each description names its group
        descs.append(d if isinstance(d, dict) else {"_bad": d})
    dup_groups = [gid for gid, n in Counter(g.id for g in groups).items() if n > 1]
    errors.extend(f"duplicate group id '{gid}'" for gid in dup_groups)
    return groups, descs


def _check_descriptions(
    descs: list[dict[str, Any]], group_ids: set[str], errors: list[str]
) -> dict[str, Description]:
    out: dict[str, Description] = {}
    for i, d in enumerate(descs):
        did = _text(d.get("id"))
        where = f"description '{did}'" if did else f"description #{i + 1}"
        if "_bad" in d or not did:
            errors.append(f"{where}: field 'id' is empty")
            continue
        if not _ID.match(did):
            errors.append(f"{where}: field 'id' may hold only letters, digits, '_', '-' and '.'")
        if did in out:
            errors.append(f"duplicate description id '{did}'")
            continue
        status = _text(d.get("status")) or "active"
        group = _text(d.get("group"))
        if not _text(d.get("name")):
            errors.append(f"{where}: field 'name' is empty")
        if status not in STATUSES:
            errors.append(f"{where}: field 'status' is '{status}', expected one of {', '.join(STATUSES)}")
        if group not in group_ids:
            errors.append(f"{where}: in no group (field 'group' is '{group}')")
        label = _text(d.get("label"))
        problem = check_label(label) if label else None
        if problem:
            errors.append(f"{where}: field 'label': {problem}")
        examples = d.get("examples") or []
        if not isinstance(examples, list):
            errors.append(f"{where}: field 'examples' must be a list")
            examples = []
        out[did] = Description(
            id=did,
            name=_text(d.get("name")),
            group=group,
            owner=_text(d.get("owner")),
            guidance=_text(d.get("guidance")),
            examples=tuple(_text(e) for e in examples),
            status=status,
            label="" if label == did else label,
        )
    _check_labels_unique(out, errors)
    return out


def _check_labels_unique(descriptions: dict[str, Description], errors: list[str]) -> None:
    # A label must name one description: not two, and not another description's id.
    owners: dict[str, str] = {}
    for d in descriptions.values():
        if not d.label:
            continue
        if d.label in descriptions:
            errors.append(f"description '{d.id}': field 'label' '{d.label}' is the id of another description")
        elif d.label in owners:
            errors.append(f"descriptions '{owners[d.label]}' and '{d.id}' have the same label '{d.label}'")
        owners.setdefault(d.label, d.id)


def _parse_migrations(raw: Any, descriptions: dict[str, Description], errors: list[str]) -> list[Migration]:
    if not isinstance(raw, list):
        errors.append("field 'migrations' must be a list")
        return []
    out = []
    for i, m in enumerate(raw):
        src, dst = (_text(m.get(k)) for k in ("from", "to")) if isinstance(m, dict) else ("", "")
        if not src or not dst:
            errors.append(f"migrations[{i}]: fields 'from' and 'to' are required")
            continue
        out.append(Migration(src, dst, _text(m.get("since")), _text(m.get("reason"))))
    mapping = {m.source: m.target for m in out}
    for m in out:  # a chain (a -> b -> c) is fine as long as it ends at an active description
        end, seen = m.target, {m.source}
        while end in mapping and end not in seen and end not in descriptions:
            seen.add(end)
            end = mapping[end]
        if end not in descriptions:
            errors.append(f"migration '{m.source}': field 'to' names unknown description '{m.target}'")
        elif not descriptions[end].active:
            errors.append(f"migration '{m.source}': field 'to' names retired description '{end}'")
    return out


@dataclass
class TaxonomyDiff:
    added: list[str] = field(default_factory=list)
    removed: list[str] = field(default_factory=list)
    retired: list[str] = field(default_factory=list)
    reactivated: list[str] = field(default_factory=list)
    renamed: list[tuple[str, str, str]] = field(default_factory=list)
    moved: list[tuple[str, str, str]] = field(default_factory=list)
    owner_changed: list[tuple[str, str, str]] = field(default_factory=list)
    migrated: list[tuple[str, str]] = field(default_factory=list)

    @property
    def empty(self) -> bool:
        return not any(asdict(self).values())


def diff(old: Taxonomy, new: Taxonomy) -> TaxonomyDiff:
    """What changed from `old` to `new`: added, removed, retired, renamed, moved, changed owner."""
    out = TaxonomyDiff()
    new_migrations = {m.source: m.target for m in new.migrations}
    for did, d in new.descriptions.items():
        before = old.descriptions.get(did)
        if before is None:
            out.added.append(did)
            continue
        if before.active and not d.active:
            out.retired.append(did)
        if not before.active and d.active:
            out.reactivated.append(did)
        if before.name != d.name:
            out.renamed.append((did, before.name, d.name))
        if before.group != d.group:
            out.moved.append((did, before.group, d.group))
        if before.owner != d.owner:
            out.owner_changed.append((did, before.owner, d.owner))
    for did in old.descriptions:
        if did not in new.descriptions:
            if did in new_migrations:
                out.migrated.append((did, new.migrate(did)))
            else:
                out.removed.append(did)
    return out
