/*
 * Text from the database made safe for where it goes. Any process chooses its own comm and
 * command line bytes, and DNS names on the wire are bytes too: they may be invalid UTF-8,
 * terminal escape sequences, C1 controls (U+009B is a CSI on its own) or bidirectional
 * overrides (U+202E) that make a terminal show one name as another.
 *
 * - JSON: invalid UTF-8 becomes U+FFFD, and every control or bidi code point is written as
 *   a \u escape, so the document is valid and says exactly what was there.
 * - CSV: invalid UTF-8 becomes U+FFFD; the rest is data, quoted as RFC 4180 says.
 * - The terminal (tables, messages on stderr): each unsafe code point or invalid byte
 *   becomes '?', which is never longer than what it replaces.
 */
#ifndef FR_TEXTSAFE_H
#define FR_TEXTSAFE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* The length (1-4) of the well-formed UTF-8 sequence p starts with, its code point in *cp;
 * 0 if there is none (a stray continuation byte, an overlong form, a surrogate, a code
 * point past U+10FFFF, or a sequence cut short by len). len must be at least 1. */
size_t fr_utf8_next(const unsigned char *p, size_t len, uint32_t *cp);

/* A code point a terminal acts on instead of showing: C0 and C1 controls, DEL, and the
 * bidirectional marks, embeddings, overrides and isolates. */
bool fr_cp_unsafe(uint32_t cp);

/* Copy len bytes of src to dst with each unsafe code point and each invalid byte as '?';
 * dst gets at most len bytes and a NUL (dst must hold len + 1). Returns the bytes written. */
size_t fr_term_safe(char *dst, const char *src, size_t len);

/* The same for a NUL-terminated string, into buf (cut to fit); returns buf. For messages. */
const char *fr_term_safe_str(const char *s, char *buf, size_t buflen);

/* The number of code points in well-formed UTF-8 text: its width in a table, near enough. */
size_t fr_utf8_count(const char *s, size_t len);

#endif
