"""wangge service: storage, domain services, the HTTP API and the ``wangge`` command line.

How ``api/`` is organised: **strict layers** (rooms), one above the other. A room imports
only the rooms below it, never one above, and no two modules import each other in a cycle
(``tests/test_architecture.py`` checks both with import-linter and the import graph). A
domain (incidents, registry, assessment, appraisal...) has one place in each room: its
routes in ``routes/``, its logic in ``services/<domain>/`` (or one ``services/<name>.py``),
its tables in ``db/models/``, its commands in ``cli/``.

The rooms, highest first::

    api/app.py        the FastAPI app (create_app): middleware, routers, error handlers
    api/cli/          the ``wangge`` CLI: __init__.py is the root app and registers every
                      command and group one way (COMMANDS, GROUPS); one module per command
                      group named after it (``wangge incidents ...`` -> cli/incidents.py);
                      options.py the shared options (--db, --tolerance-m, --community,
                      --layer, --json, the CRS options), output.py the consoles and exit
                      codes, inputs.py the file readers, database.py opening --db
    api/auth_table.py the generator of docs/auth.md (reads the routers' declared policy)
    ------------------------------------------------------------------------------------
    api/routes/       HTTP routers, one per resource, and the web plumbing they share:
                      deps.py (sessions, the signed-in user, roles), schemas/ (request
                      and response models: common.py the shared shapes, one module per
                      domain), headers.py (security headers, CSP), throttle.py (sign-in
                      limits)
    ------------------------------------------------------------------------------------
    api/services/     domain logic: keyword-only functions over a session, testable
                      without HTTP; never imports routes or cli
        incidents/    calendar, deadlines, workflow, timing (pure); categories, people
                      (actors, users' communities), report (route and register),
                      transitions, events (history), views (JSON), visibility, queues
                      (inbox, overdue), stats, api_keys; routing, publication,
                      satisfaction, slips, open311 and open311_format, demo (the demo's
                      incidents)
        registry/     code tables, validators, import/export, templates, ledgers,
                      grid workers, reassignment
        assessment/   the monthly assessment: sample, rules, records, compare, scoring
                      (a sample point), community (score, ranking), report (pure); service
        appraisal/    the appraisal per worker: formula, report (pure); service
        *.py          crud, privacy, divisions, patrol, patrol_manual, worklog, surveys,
                      features, geojson, locate, geocoding, ogc_crs, ogc_openapi, images,
                      staff_photos, accounts, community_data, map_outputs, backup,
                      database_copy, key_rotation, demo
    ------------------------------------------------------------------------------------
    api/db/           storage: engine, dialect (SpatiaLite/PostGIS), spatialite, migrate and
                      migrations (Alembic), revisions (is the schema current, without
                      Alembic), communities, divisions, encrypted columns,
                      data_keys (resealing personal data); models/ (base, common,
                      incidents, assessment, opinion: each imports only models.base);
                      the storage's flush hooks: history (change log), audit_chain;
                      dry_run (a job in one rolled-back transaction, files in a
                      temporary folder: every writing command's --dry-run)
    ------------------------------------------------------------------------------------
    api/core/         the foundation, no database: config (settings), errors (the error
                      table) and error_handlers (its one renderer for the web API), crypto,
                      security (passwords, tokens), password_policy, totp, timefmt,
                      limits (request bounds) and local_limits (file bounds of the CLI)

Below ``api`` lie ``maps`` (rendering) and ``gis`` (pure spatial functions): ``api`` may
import both, ``maps`` imports ``gis`` only, ``gis`` imports neither.
"""
