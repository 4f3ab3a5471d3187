"""Incidents: working calendar, deadlines and the workflow state machine (pure, no database).

- :mod:`api.services.incidents.calendar` — the official Chinese working calendar
  (``data/calendar``);
- :mod:`api.services.incidents.deadlines` — due times in urgent hours, working hours, working days;
- :mod:`api.services.incidents.workflow` — states, actions, roles and the transition table.
"""
