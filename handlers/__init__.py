"""Thin Slack listeners (commands, actions, App Home).

Not built yet: this is issue #4. The package exists so the layout matches the design card.
"""
