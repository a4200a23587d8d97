"""ContactLens: suggests contact descriptions from a maintained taxonomy, stores contacts, flags drift."""

from contactlens.text import import_without

import_without("sklearn.utils.fixes", ("pandas",))  # see `text.import_without`: 100 MB a serving worker
