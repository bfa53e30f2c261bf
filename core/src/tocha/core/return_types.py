"""torch.return_types: the named tuples returned by ops such as ``max(dim)``, ``sort`` and
``linalg.slogdet``. The classes are registered here by the op families as they load
(see ``_ops._util.return_type``)."""
