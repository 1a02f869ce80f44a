"""The NYSE's holidays and early closes: the default exchange table of the session calendar.

A maintained table, not rules: the exchange announces its calendar years ahead, adds
closures of its own (the national day of mourning of 2025-01-09), and observes holidays
that fall on a weekend by its own rules (no Friday closure for a Saturday New Year's Day).
`tests/unit/core/test_nyse.py` compares every year here with the XNYS calendar of
`exchange_calendars` (a dev dependency only: it brings pandas into the process).

Extend the table before its last year ends: after `LAST_YEAR` the calendar knows no NYSE
holidays, only the weekends and the configured SESSION_HOLIDAYS.
"""

from __future__ import annotations

from datetime import date

FIRST_YEAR = 2020
LAST_YEAR = 2035

# Full-day closures on weekdays (a holiday on a weekend is observed on the date listed).
HOLIDAYS: frozenset[date] = frozenset(
    {
        # 2020
        date(2020, 1, 1),  # New Year's Day
        date(2020, 1, 20),  # Martin Luther King Jr. Day
        date(2020, 2, 17),  # Washington's Birthday
        date(2020, 4, 10),  # Good Friday
        date(2020, 5, 25),  # Memorial Day
        date(2020, 7, 3),  # Independence Day
        date(2020, 9, 7),  # Labor Day
        date(2020, 11, 26),  # Thanksgiving Day
        date(2020, 12, 25),  # Christmas Day
        # 2021
        date(2021, 1, 1),  # New Year's Day
        date(2021, 1, 18),  # Martin Luther King Jr. Day
        date(2021, 2, 15),  # Washington's Birthday
        date(2021, 4, 2),  # Good Friday
        date(2021, 5, 31),  # Memorial Day
        date(2021, 7, 5),  # Independence Day
        date(2021, 9, 6),  # Labor Day
        date(2021, 11, 25),  # Thanksgiving Day
        date(2021, 12, 24),  # Christmas Day
        # 2022
        date(2022, 1, 17),  # Martin Luther King Jr. Day
        date(2022, 2, 21),  # Washington's Birthday
        date(2022, 4, 15),  # Good Friday
        date(2022, 5, 30),  # Memorial Day
        date(2022, 6, 20),  # Juneteenth
        date(2022, 7, 4),  # Independence Day
        date(2022, 9, 5),  # Labor Day
        date(2022, 11, 24),  # Thanksgiving Day
        date(2022, 12, 26),  # Christmas Day
        # 2023
        date(2023, 1, 2),  # New Year's Day
        date(2023, 1, 16),  # Martin Luther King Jr. Day
        date(2023, 2, 20),  # Washington's Birthday
        date(2023, 4, 7),  # Good Friday
        date(2023, 5, 29),  # Memorial Day
        date(2023, 6, 19),  # Juneteenth
        date(2023, 7, 4),  # Independence Day
        date(2023, 9, 4),  # Labor Day
        date(2023, 11, 23),  # Thanksgiving Day
        date(2023, 12, 25),  # Christmas Day
        # 2024
        date(2024, 1, 1),  # New Year's Day
        date(2024, 1, 15),  # Martin Luther King Jr. Day
        date(2024, 2, 19),  # Washington's Birthday
        date(2024, 3, 29),  # Good Friday
        date(2024, 5, 27),  # Memorial Day
        date(2024, 6, 19),  # Juneteenth
        date(2024, 7, 4),  # Independence Day
        date(2024, 9, 2),  # Labor Day
        date(2024, 11, 28),  # Thanksgiving Day
        date(2024, 12, 25),  # Christmas Day
        # 2025
        date(2025, 1, 1),  # New Year's Day
        date(2025, 1, 9),  # national day of mourning for President Carter
        date(2025, 1, 20),  # Martin Luther King Jr. Day
        date(2025, 2, 17),  # Washington's Birthday
        date(2025, 4, 18),  # Good Friday
        date(2025, 5, 26),  # Memorial Day
        date(2025, 6, 19),  # Juneteenth
        date(2025, 7, 4),  # Independence Day
        date(2025, 9, 1),  # Labor Day
        date(2025, 11, 27),  # Thanksgiving Day
        date(2025, 12, 25),  # Christmas Day
        # 2026
        date(2026, 1, 1),  # New Year's Day
        date(2026, 1, 19),  # Martin Luther King Jr. Day
        date(2026, 2, 16),  # Washington's Birthday
        date(2026, 4, 3),  # Good Friday
        date(2026, 5, 25),  # Memorial Day
        date(2026, 6, 19),  # Juneteenth
        date(2026, 7, 3),  # Independence Day
        date(2026, 9, 7),  # Labor Day
        date(2026, 11, 26),  # Thanksgiving Day
        date(2026, 12, 25),  # Christmas Day
        # 2027
        date(2027, 1, 1),  # New Year's Day
        date(2027, 1, 18),  # Martin Luther King Jr. Day
        date(2027, 2, 15),  # Washington's Birthday
        date(2027, 3, 26),  # Good Friday
        date(2027, 5, 31),  # Memorial Day
        date(2027, 6, 18),  # Juneteenth
        date(2027, 7, 5),  # Independence Day
        date(2027, 9, 6),  # Labor Day
        date(2027, 11, 25),  # Thanksgiving Day
        date(2027, 12, 24),  # Christmas Day
        # 2028
        date(2028, 1, 17),  # Martin Luther King Jr. Day
        date(2028, 2, 21),  # Washington's Birthday
        date(2028, 4, 14),  # Good Friday
        date(2028, 5, 29),  # Memorial Day
        date(2028, 6, 19),  # Juneteenth
        date(2028, 7, 4),  # Independence Day
        date(2028, 9, 4),  # Labor Day
        date(2028, 11, 23),  # Thanksgiving Day
        date(2028, 12, 25),  # Christmas Day
        # 2029
        date(2029, 1, 1),  # New Year's Day
        date(2029, 1, 15),  # Martin Luther King Jr. Day
        date(2029, 2, 19),  # Washington's Birthday
        date(2029, 3, 30),  # Good Friday
        date(2029, 5, 28),  # Memorial Day
        date(2029, 6, 19),  # Juneteenth
        date(2029, 7, 4),  # Independence Day
        date(2029, 9, 3),  # Labor Day
        date(2029, 11, 22),  # Thanksgiving Day
        date(2029, 12, 25),  # Christmas Day
        # 2030
        date(2030, 1, 1),  # New Year's Day
        date(2030, 1, 21),  # Martin Luther King Jr. Day
        date(2030, 2, 18),  # Washington's Birthday
        date(2030, 4, 19),  # Good Friday
        date(2030, 5, 27),  # Memorial Day
        date(2030, 6, 19),  # Juneteenth
        date(2030, 7, 4),  # Independence Day
        date(2030, 9, 2),  # Labor Day
        date(2030, 11, 28),  # Thanksgiving Day
        date(2030, 12, 25),  # Christmas Day
        # 2031
        date(2031, 1, 1),  # New Year's Day
        date(2031, 1, 20),  # Martin Luther King Jr. Day
        date(2031, 2, 17),  # Washington's Birthday
        date(2031, 4, 11),  # Good Friday
        date(2031, 5, 26),  # Memorial Day
        date(2031, 6, 19),  # Juneteenth
        date(2031, 7, 4),  # Independence Day
        date(2031, 9, 1),  # Labor Day
        date(2031, 11, 27),  # Thanksgiving Day
        date(2031, 12, 25),  # Christmas Day
        # 2032
        date(2032, 1, 1),  # New Year's Day
        date(2032, 1, 19),  # Martin Luther King Jr. Day
        date(2032, 2, 16),  # Washington's Birthday
        date(2032, 3, 26),  # Good Friday
        date(2032, 5, 31),  # Memorial Day
        date(2032, 6, 18),  # Juneteenth
        date(2032, 7, 5),  # Independence Day
        date(2032, 9, 6),  # Labor Day
        date(2032, 11, 25),  # Thanksgiving Day
        date(2032, 12, 24),  # Christmas Day
        # 2033
        date(2033, 1, 17),  # Martin Luther King Jr. Day
        date(2033, 2, 21),  # Washington's Birthday
        date(2033, 4, 15),  # Good Friday
        date(2033, 5, 30),  # Memorial Day
        date(2033, 6, 20),  # Juneteenth
        date(2033, 7, 4),  # Independence Day
        date(2033, 9, 5),  # Labor Day
        date(2033, 11, 24),  # Thanksgiving Day
        date(2033, 12, 26),  # Christmas Day
        # 2034
        date(2034, 1, 2),  # New Year's Day
        date(2034, 1, 16),  # Martin Luther King Jr. Day
        date(2034, 2, 20),  # Washington's Birthday
        date(2034, 4, 7),  # Good Friday
        date(2034, 5, 29),  # Memorial Day
        date(2034, 6, 19),  # Juneteenth
        date(2034, 7, 4),  # Independence Day
        date(2034, 9, 4),  # Labor Day
        date(2034, 11, 23),  # Thanksgiving Day
        date(2034, 12, 25),  # Christmas Day
        # 2035
        date(2035, 1, 1),  # New Year's Day
        date(2035, 1, 15),  # Martin Luther King Jr. Day
        date(2035, 2, 19),  # Washington's Birthday
        date(2035, 3, 23),  # Good Friday
        date(2035, 5, 28),  # Memorial Day
        date(2035, 6, 19),  # Juneteenth
        date(2035, 7, 4),  # Independence Day
        date(2035, 9, 3),  # Labor Day
        date(2035, 11, 22),  # Thanksgiving Day
        date(2035, 12, 25),  # Christmas Day
    }
)

# Days the regular session closes at 13:00 New York time (after hours end at 17:00).
EARLY_CLOSES: frozenset[date] = frozenset(
    {
        # 2020
        date(2020, 11, 27),  # after Thanksgiving
        date(2020, 12, 24),  # Christmas Eve
        # 2021
        date(2021, 11, 26),  # after Thanksgiving
        # 2022
        date(2022, 11, 25),  # after Thanksgiving
        # 2023
        date(2023, 7, 3),  # before Independence Day
        date(2023, 11, 24),  # after Thanksgiving
        # 2024
        date(2024, 7, 3),  # before Independence Day
        date(2024, 11, 29),  # after Thanksgiving
        date(2024, 12, 24),  # Christmas Eve
        # 2025
        date(2025, 7, 3),  # before Independence Day
        date(2025, 11, 28),  # after Thanksgiving
        date(2025, 12, 24),  # Christmas Eve
        # 2026
        date(2026, 11, 27),  # after Thanksgiving
        date(2026, 12, 24),  # Christmas Eve
        # 2027
        date(2027, 11, 26),  # after Thanksgiving
        # 2028
        date(2028, 7, 3),  # before Independence Day
        date(2028, 11, 24),  # after Thanksgiving
        # 2029
        date(2029, 7, 3),  # before Independence Day
        date(2029, 11, 23),  # after Thanksgiving
        date(2029, 12, 24),  # Christmas Eve
        # 2030
        date(2030, 7, 3),  # before Independence Day
        date(2030, 11, 29),  # after Thanksgiving
        date(2030, 12, 24),  # Christmas Eve
        # 2031
        date(2031, 7, 3),  # before Independence Day
        date(2031, 11, 28),  # after Thanksgiving
        date(2031, 12, 24),  # Christmas Eve
        # 2032
        date(2032, 11, 26),  # after Thanksgiving
        # 2033
        date(2033, 11, 25),  # after Thanksgiving
        # 2034
        date(2034, 7, 3),  # before Independence Day
        date(2034, 11, 24),  # after Thanksgiving
        # 2035
        date(2035, 7, 3),  # before Independence Day
        date(2035, 11, 23),  # after Thanksgiving
        date(2035, 12, 24),  # Christmas Eve
    }
)
