"""The file MLflow logs as the model's code (models-from-code): it names the pyfunc, nothing is pickled."""

from mlflow.models import set_model

from contactlens.pyfunc import ContactLensPyfunc

set_model(ContactLensPyfunc())
