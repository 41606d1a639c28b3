"""Local stand-ins for HubSpot, QuickBooks Online (and later Slack), served over real HTTP on
127.0.0.1, plus a simulated HubSpot-to-QBO integration. Used by the tests and the demo;
production code paths never import this package.
"""
