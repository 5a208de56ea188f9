"""The one error type a user can cause: it names the field, the value and what is allowed."""


class SpecError(ValueError):
    """A bad setting. `str(err)` is one line fit for a CLI or a dashboard banner."""

    def __init__(self, field: str, value, allowed: str):
        self.field, self.value, self.allowed = field, value, allowed
        super().__init__(f"{field}={value!r} is not allowed: {allowed}")
