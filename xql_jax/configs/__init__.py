"""ml_collections configs: ``base`` holds every field with its meaning; domain files override a few."""
