"""The package version, in a module of its own so that submodules can read it without importing the
package root (which re-exports the whole public API)."""

__version__ = "0.1.0"
