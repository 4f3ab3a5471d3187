"""Incidents: working calendar, deadlines and the workflow state machine (pure, no database).

- :mod:`api.incidents.calendar` — the official Chinese working calendar (``data/calendar``);
- :mod:`api.incidents.deadlines` — due times in urgent hours, working hours, working days;
- :mod:`api.incidents.workflow` — states, actions, roles and the transition table.
"""
