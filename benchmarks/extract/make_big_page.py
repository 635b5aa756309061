#!/usr/bin/env python3
"""Writes an uncompressed WARC with one response record: a 10 MB HTML page on a single line
(minified markup, no newline), for the peak-RSS measurement of run.sh. Usage: make_big_page.py OUT"""
import sys

para = '<p class="c">lorem ipsum <b>dolor</b> sit amet, consectetur.</p>'
html = ('<html><body><div id="main">' + para * ((10 << 20) // len(para)) + "</div></body></html>").encode()
http = b"HTTP/1.1 200 OK\r\nContent-Type: text/html; charset=utf-8\r\n\r\n" + html
head = (
    "WARC/1.0\r\nWARC-Type: response\r\nWARC-Record-ID: <urn:uuid:00000000-0000-0000-0000-000000000010>\r\n"
    "WARC-Date: 2026-12-07T00:00:00Z\r\nWARC-Target-URI: http://example.com/big\r\n"
    f"Content-Type: application/http; msgtype=response\r\nContent-Length: {len(http)}\r\n\r\n"
).encode()
with open(sys.argv[1], "wb") as f:
    f.write(head + http + b"\r\n\r\n")
