"""``manage.py search_index``: the HNSW index of memory embeddings.

    manage.py search_index status
    manage.py search_index rebuild [--m M] [--ef-construction EF]
        [--maintenance-work-mem 3GB] [--workers 1]
    manage.py search_index codes

``rebuild`` builds a new index concurrently with reads and writes, prints
its progress, then swaps it in (memories/search_index.py). ``codes`` adds
the embeddings' binary codes and their index (migration 0016) where pgvector
was older than 0.7 when that migration ran and has been upgraded since.
"""

from django.core.management.base import CommandError
from django.db import connection

from memories.search_index import (
    add_binary_codes,
    codes_ready,
    index_rebuild,
    index_status,
    model_index,
)
from memoryhub.commands import ServiceCommand


class Command(ServiceCommand):
    help = (
        "Show the HNSW index of memory embeddings, or rebuild it (other m / "
        "ef_construction, or after many deletes) concurrently with reads and "
        "writes, with progress."
    )

    def add_arguments(self, parser):
        sub = parser.add_subparsers(dest="action", required=True)
        sub.add_parser("status", help="definition, size and validity")
        sub.add_parser(
            "codes",
            help="add the binary codes of the embeddings (pgvector 0.7 or later; "
            "rewrites the memories table under an exclusive lock)",
        )
        rebuild = sub.add_parser("rebuild", help="build again and swap in")
        index = model_index()
        rebuild.add_argument(
            "--m",
            type=int,
            default=index.m,
            help=f"graph degree (the model's: {index.m})",
        )
        rebuild.add_argument(
            "--ef-construction",
            type=int,
            default=index.ef_construction,
            help="candidate list while building (the model's: "
            f"{index.ef_construction})",
        )
        rebuild.add_argument(
            "--maintenance-work-mem",
            help="memory for the build, e.g. 3GB (keep the graph in memory: "
            "about 2.2 KiB per memory at m=16)",
        )
        rebuild.add_argument(
            "--workers", type=int, help="parallel maintenance workers for the build"
        )

    def handle(self, *args, action, **options):
        if action == "status":
            for line in index_status().lines():
                self.stdout.write(line)
            self.stdout.write(
                "binary codes: "
                + (
                    "present"
                    if codes_ready()
                    else "missing (manage.py search_index codes)"
                )
            )
            return
        if action == "codes":
            if codes_ready():
                self.stdout.write("binary codes: already present")
            if not add_binary_codes(connection, progress=self.stdout.write):
                raise CommandError(
                    "pgvector has no binary_quantize (it is older than 0.7): "
                    "upgrade it and run `ALTER EXTENSION vector UPDATE;` first"
                )
            self.stdout.write(self.style.SUCCESS("binary codes present"))
            return
        try:
            status = index_rebuild(
                m=options["m"],
                ef_construction=options["ef_construction"],
                maintenance_work_mem=options["maintenance_work_mem"],
                workers=options["workers"],
                progress=lambda line: self.stdout.write(line),
            )
        except ValueError as exc:
            raise CommandError(str(exc)) from exc
        self.stdout.write(self.style.SUCCESS("rebuilt"))
        for line in status.lines():
            self.stdout.write(line)
