"""One way to declare and read settings, for every command.

A setting is a dataclass field made by :func:`setting`: its default (written once), help text, choices,
flag name and bounds live in the field's metadata. :func:`check_settings` validates an instance against
its annotations and that metadata (types, finite numbers, bounds, choices; errors name the flag);
:func:`read_config_file` reads YAML/JSON settings and :func:`from_mapping` builds a dataclass from them.
The CLI turns the same fields into flags (:mod:`xalign.cli.flags`); published presets live in
:mod:`xalign.settings.recipes`.
"""

from xalign.settings.declare import (ConfigTypeError, check_settings, default_of, flag_of, setting,
                                     setting_from)
from xalign.settings.files import from_mapping, read_config_file

__all__ = ["ConfigTypeError", "check_settings", "default_of", "flag_of", "from_mapping", "read_config_file", "setting",
           "setting_from"]
