"""Failure rules (one module per rule id from the error catalog).

Not built yet: this is issue #3. The package exists so the layout matches the design card.
"""
