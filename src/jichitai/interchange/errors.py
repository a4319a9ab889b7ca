"""Errors of the standard layout, always bilingual (Japanese for staff, English for vendors and logs)."""


class InterchangeError(Exception):
    """An export or import could not be done. Nothing was written."""

    def __init__(self, ja: str, en: str):
        self.ja, self.en = ja, en
        super().__init__(f"{ja} / {en}")
