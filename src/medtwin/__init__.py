"""medtwin: medical digital twins -- mechanistic patient models that stay connected to their
patient. The numerical core runs on JAX in float64."""

import jax as _jax

_jax.config.update("jax_enable_x64", True)

from . import errors as errors  # noqa: E402
from . import models as models  # noqa: E402
from . import simulate as simulate  # noqa: E402
from .errors import MedtwinError as MedtwinError  # noqa: E402

__version__ = "0.1.0"

__all__ = ["MedtwinError", "__version__", "errors", "models", "simulate"]
