/* SPDX-License-Identifier: MIT */
/*
 * log_esc.h - make client-supplied strings safe to log.
 *
 * The daemon's log is line-oriented: a newline in an app's name would let
 * the app forge whole log lines, and terminal escapes could rewrite what an
 * operator sees.  Every string that comes from a client passes through
 * log_esc() before it reaches a log line.
 */
#ifndef FP_LOG_ESC_H
#define FP_LOG_ESC_H

#include <stddef.h>

/* buffer size that holds any escaped form of @n input bytes */
#define LOG_ESC_SIZE(n) (4 * (n) + 1)

/**
 * log_esc - escape a client string for a log line.
 * @buf: output buffer.
 * @size: its size; at least 1.  Output that does not fit is cut at a whole
 *        escape and marked with "...".
 * @s: the untrusted NUL-terminated string (NULL logs as "(null)").
 *
 * Printable ASCII is copied as is, except the backslash, which doubles so
 * that the escaping stays unambiguous; \n, \r and \t become those two-char
 * escapes and every other control or non-ASCII byte becomes \xHH.
 * Return: @buf.
 */
const char *log_esc(char *buf, size_t size, const char *s);

#endif /* FP_LOG_ESC_H */
