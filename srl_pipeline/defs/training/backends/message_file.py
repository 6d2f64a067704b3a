"""Pipes messages from a file, read whole lines only.

Dagster's ``PipesFileMessageReader`` parses each ``readline()`` result at once. A long message
(a training job's final metadata) that the writer's buffered file flushes in pieces can then be
read half-written: ``JSONDecodeError`` in the reader thread, and the messages after it (the
materialisation, "closed") are lost. Seen in a five-species ``make main`` (zombie's SFT job).
This reader keeps a partial line until its newline arrives; everything else is Dagster's.
"""

from __future__ import annotations

import json
import os
import sys
import tempfile
import time
from contextlib import contextmanager
from typing import Any, Callable, Iterator

import dagster as dg

__all__ = ["WholeLineTempFileMessageReader", "whole_lines"]


def whole_lines(path: str, should_stop: Callable[[], bool], poll_s: float = 0.01) -> Iterator[str]:
    """The lines appended to ``path`` until ``should_stop()`` and nothing more to read; a line is
    yielded once its newline is there (a last line without one is yielded at the end)."""
    pending = ""
    with open(path, encoding="utf-8") as stream:
        while True:
            chunk = stream.readline()
            if chunk:
                pending += chunk
                if pending.endswith("\n"):
                    yield pending
                    pending = ""
            elif should_stop():
                # what was appended between the empty read and the stop signal is read too
                yield from (pending + stream.read()).splitlines(keepends=True)
                return
            else:
                time.sleep(poll_s)


class _WholeLineFileMessageReader(dg.PipesFileMessageReader):
    def _reader_thread(self, handler: Any, is_resource_complete: Any) -> None:
        try:
            for line in whole_lines(self._path, is_resource_complete.is_set):
                handler.handle_message(json.loads(line))
        except:  # noqa: E722 - reported to the run, then re-raised, as Dagster's reader does
            handler.report_pipes_framework_exception(f"{self.__class__.__name__} reader thread", sys.exc_info())
            raise


class WholeLineTempFileMessageReader(dg.PipesTempFileMessageReader):
    """``PipesTempFileMessageReader`` (the subprocess client's default) reading whole lines."""

    @contextmanager
    def read_messages(self, handler: Any) -> Iterator[dict[str, Any]]:
        with tempfile.TemporaryDirectory() as tempdir:
            reader = _WholeLineFileMessageReader(os.path.join(tempdir, "messages"),
                                                 include_stdio_in_messages=self._include_stdio_in_messages)
            with reader.read_messages(handler) as params:
                yield params
