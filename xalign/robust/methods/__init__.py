"""The robust training methods, one module each, registered by name (see :mod:`xalign.robust.methods.base`).

Built in: ``baseline`` (:mod:`.baseline`), ``adv`` (:mod:`.adv`), ``rs-rp`` (:mod:`.rs_rp`), ``rs-da``
(:mod:`.rs_da`). A new method is one module that subclasses :class:`RobustMethod` and calls :func:`register`
(``docs/extending.md``, "A robust method"): a module placed in this package is imported with it, and one
in another package is found through the ``xalign.methods`` entry-point group when its name is asked for.
Importing this package is torch-free.
"""

from __future__ import annotations

# each module registers its method; this order is the order of method_names()
from xalign.robust.methods import baseline  # noqa: F401, I001
from xalign.robust.methods import adv  # noqa: F401
from xalign.robust.methods import rs_rp  # noqa: F401
from xalign.robust.methods import rs_da  # noqa: F401
from xalign.robust.methods.base import (NoSettings, RobustMethod, TrainData, check_settings, get_method,
                                        import_package_modules, method_names, register, setting, settings_fields,
                                        unregister)

__all__ = ["NoSettings", "RobustMethod", "TrainData", "check_settings", "get_method", "method_names", "register",
           "setting", "settings_fields", "unregister"]

import_package_modules(__name__, __path__)  # any further method module in this folder
