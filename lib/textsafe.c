/*
 * UTF-8 checking and the terminal sanitiser (see textsafe.h).
 */
#include "textsafe.h"

#include <string.h>

size_t fr_utf8_next(const unsigned char *p, size_t len, uint32_t *cp)
{
	uint32_t c = p[0], min;
	size_t n;

	if (c < 0x80) {
		*cp = c;
		return 1;
	}
	if (c >= 0xc2 && c <= 0xdf) {
		n = 2;
		c &= 0x1f;
		min = 0x80;
	} else if (c >= 0xe0 && c <= 0xef) {
		n = 3;
		c &= 0x0f;
		min = 0x800;
	} else if (c >= 0xf0 && c <= 0xf4) {
		n = 4;
		c &= 0x07;
		min = 0x10000;
	} else {
		return 0; /* a continuation byte, C0/C1 (overlong) or F5..FF */
	}
	if (len < n)
		return 0;
	for (size_t i = 1; i < n; i++) {
		if ((p[i] & 0xc0) != 0x80)
			return 0;
		c = c << 6 | (p[i] & 0x3f);
	}
	if (c < min || c > 0x10ffff || (c >= 0xd800 && c <= 0xdfff))
		return 0;
	*cp = c;
	return n;
}

bool fr_cp_unsafe(uint32_t cp)
{
	return cp < 0x20 || (cp >= 0x7f && cp <= 0x9f) || cp == 0x061c || cp == 0x200e || cp == 0x200f ||
	       (cp >= 0x202a && cp <= 0x202e) || (cp >= 0x2066 && cp <= 0x2069);
}

size_t fr_term_safe(char *dst, const char *src, size_t len)
{
	const unsigned char *p = (const unsigned char *)src;
	size_t out = 0;

	for (size_t i = 0; i < len;) {
		uint32_t cp;
		size_t n = fr_utf8_next(p + i, len - i, &cp);

		if (!n || fr_cp_unsafe(cp)) {
			dst[out++] = '?';
			i += n ? n : 1;
		} else {
			memcpy(dst + out, p + i, n);
			out += n;
			i += n;
		}
	}
	dst[out] = '\0';
	return out;
}

const char *fr_term_safe_str(const char *s, char *buf, size_t buflen)
{
	size_t len = strlen(s);

	if (!buflen)
		return "";
	if (len > buflen - 1)
		len = buflen - 1; /* a sequence cut here shows as '?' */
	fr_term_safe(buf, s, len);
	return buf;
}

size_t fr_utf8_count(const char *s, size_t len)
{
	size_t n = 0;

	for (size_t i = 0; i < len; i++)
		n += ((unsigned char)s[i] & 0xc0) != 0x80;
	return n;
}
