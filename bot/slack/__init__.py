"""Everything qbsync says in Slack: escaping (mrkdwn.py) and message building (messages.py),
kept apart from sending (the bot's Slack client) so building can be tested without a network.
"""
