"""The privacy app has no models of its own: its setting (同一世帯員の保護, `privacy.protect_household_members`) is
declared in the platform's tier engine (platform/declarations.py) and read by the read policy through it."""
