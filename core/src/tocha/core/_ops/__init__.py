"""The op families of tocha.core, one per module (see docs/contributing/ops.md)."""
