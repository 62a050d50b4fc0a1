"""Integrations with frameworks. Each is a leaf: the core never imports them."""
