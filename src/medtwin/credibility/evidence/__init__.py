"""The evidence items of the built-in models, one module per model (each declaration's
``evidence`` names the :class:`~medtwin.credibility.Evidence` here). Loaded when a dossier or a
reference test asks; the model declarations name them by path and load nothing."""
