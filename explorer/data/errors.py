"""The one exception type of `explorer.data`."""


class DataError(ValueError):
    """A data set could not be loaded; the message names the source (file or data set), the
    problem, and what is accepted. Subclasses ValueError so generic handlers still work."""
