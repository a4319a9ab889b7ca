"""Errors of the standard layout, always bilingual (Japanese for staff, English for vendors and logs)."""


class InterchangeError(Exception):
    """An export or import could not be done. Nothing was written."""

    def __init__(self, ja: str, en: str):
        self.ja, self.en = ja, en
        super().__init__(f"{ja} / {en}")

    def __reduce__(self):  # picklable, so that an export worker process can report it
        return (type(self), (self.ja, self.en))
