"""`sales_file_sensor`: a new or changed file in the inbox becomes a partition and an import run.

The cursor remembers each name's content hash, so an unchanged file is never imported twice; a
file whose size or mtime moved is hashed again. A file changed in the last few seconds
(PROFITEER_INBOX_SETTLE_SECONDS, default 5) waits for the next tick: a copy may be under way. A run already submitted for the same content
(by `profiteer import`, tagged with the hash) is not requested again.
"""

import json

import dagster as dg

from profiteer_pipeline.defs.files.assets import import_job
from profiteer_pipeline.defs.files.partitions import imported_files
from profiteer_pipeline.sources.files import inbox

NAME_TAG, SHA_TAG = inbox.NAME_TAG, inbox.CONTENT_TAG


@dg.sensor(
    job=import_job,
    minimum_interval_seconds=15,
    default_status=dg.DefaultSensorStatus.RUNNING,
    description="Notices new or changed order exports in the inbox (PROFITEER_INBOX, default "
    ".profiteer/inbox/): adds the file's partition and requests its import run.",
)
def sales_file_sensor(context: dg.SensorEvaluationContext):
    cursor: dict[str, list[str]] = json.loads(context.cursor) if context.cursor else {}
    files, problems = inbox.scan()
    for problem in problems:
        context.log.warning(f"inbox: {problem}; remove one of them")
    requests: list[dg.RunRequest] = []
    new_partitions: list[str] = []
    existing = set(context.instance.get_dynamic_partitions(imported_files.name))
    for name, found in files.items():
        known = cursor.get(name)
        if not inbox.settled(found):  # still being written, perhaps: look again next tick
            continue
        try:
            mark = inbox.fingerprint(found)
            if known and known[0] == mark:
                continue
            sha = inbox.content_key(found)
        except OSError:  # removed or replaced meanwhile: look again next time
            continue
        if known and known[1] == sha:
            cursor[name] = [mark, sha]  # touched, same content
            continue
        cursor[name] = [mark, sha]
        submitted = context.instance.get_run_records(
            dg.RunsFilter(job_name=import_job.name, tags={NAME_TAG: name, SHA_TAG: sha}), limit=1
        )
        if submitted:
            continue
        if name not in existing:
            new_partitions.append(name)
        requests.append(
            dg.RunRequest(
                run_key=f"{name}:{sha}",
                partition_key=name,
                tags={NAME_TAG: name, SHA_TAG: sha},
            )
        )
    for gone in set(cursor) - set(files):
        del cursor[gone]
    dynamic = [imported_files.build_add_request(new_partitions)] if new_partitions else []
    if not requests and not dynamic:  # the cursor is kept all the same (touched files)
        return dg.SensorResult(
            skip_reason=f"no new or changed file in {inbox.inbox_dir()}", cursor=json.dumps(cursor)
        )
    return dg.SensorResult(
        run_requests=requests, dynamic_partitions_requests=dynamic, cursor=json.dumps(cursor)
    )
