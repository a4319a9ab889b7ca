"""Privacy: the one read policy for residents' personal data (jichitai.privacy.policy) and its settings."""
