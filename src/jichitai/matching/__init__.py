"""Matching evacuees (and any list typed from paper) to the resident register (issue 12, item 3).

`jichitai.matching.api.match_rows` is the library entry point (the disaster screens call it); `jichitai disaster
match` runs it over a CSV file. The method and the safety rule for 自動確定 are in docs/matching.md.
"""
