"""Weak judges: each scores one measure of a response and names itself.

A judge returns, per response, either a score or an error message; it never
invents a score when it cannot judge.
"""
