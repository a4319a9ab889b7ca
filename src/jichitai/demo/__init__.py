"""Demo data for Jichitai Cloud: the ten municipalities of the 大分県・宮崎県 pilot, staff logins and a synthetic
resident register that looks like a real rural town (`jichitai seed_demo`).

Every person, name, number and address generated here is synthetic. Japanese names and town names come from the
data files of the Python `gimei` package 0.2.3 (MIT licence, Copyright (c) 2015 nabetama,
https://github.com/nabetama/gimei; the data derive from willnet/gimei, also MIT), which pair each kanji name
with its reading.
"""
