"""What every view does with an action's refusal: put its messages on the form, each on its field when the form has
that field, otherwise as a form-wide error. One copy for every app (actions raise RuleError-like errors with an
`errors` dict of field → messages, or Django's ValidationError with or without a field dict)."""
from django.core.exceptions import ValidationError


def apply_errors(form, exc):
    if isinstance(getattr(exc, "errors", None), dict):
        items = exc.errors.items()
    elif isinstance(exc, ValidationError) and hasattr(exc, "error_dict"):
        items = exc.message_dict.items()
    elif isinstance(exc, ValidationError):
        items = [(None, exc.messages)]
    else:
        items = [(None, [str(exc)])]
    for field, msgs in items:
        if isinstance(msgs, str):
            msgs = [msgs]
        for msg in msgs:
            form.add_error(field if field in form.fields else None, msg)
