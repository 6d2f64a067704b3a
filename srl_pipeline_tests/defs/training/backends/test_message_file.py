"""Pipes messages are parsed only once their whole line is written."""

from __future__ import annotations

import threading
import time

from srl_pipeline.defs.training.backends.message_file import whole_lines


def test_a_message_written_in_two_pieces_arrives_whole(tmp_path):
    path = tmp_path / "messages"
    path.write_text("")
    stop = threading.Event()
    read_half = threading.Event()

    def writer():
        with open(path, "a", encoding="utf-8") as f:
            f.write('{"a": 1}\n{"metadata": "')
            f.flush()
            read_half.wait(5)  # the reader has seen the half-written line
            time.sleep(0.05)
            f.write('long"}\n')
            f.write("tail")
        stop.set()

    lines = []
    thread = threading.Thread(target=writer)
    thread.start()
    for line in whole_lines(str(path), stop.is_set):
        lines.append(line)
        read_half.set()
    thread.join()
    assert lines == ['{"a": 1}\n', '{"metadata": "long"}\n', "tail"]


def test_what_was_written_just_before_the_stop_signal_is_read(tmp_path):
    path = tmp_path / "messages"
    path.write_text('{"a": 1}\n')

    def stop_after_a_last_write() -> bool:  # the writer appends, then the session closes
        with open(path, "a", encoding="utf-8") as f:
            f.write('{"closed": true}\n')
        return True

    assert list(whole_lines(str(path), stop_after_a_last_write)) == ['{"a": 1}\n', '{"closed": true}\n']
