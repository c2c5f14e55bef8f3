/*
 * Messages on standard error, one write(2) per line.
 */
#ifndef FR_LOG_H
#define FR_LOG_H

extern int fr_verbose;
void fr_log(int level, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
#define fr_info(...) fr_log(1, __VA_ARGS__) /* a notice: shown unless -q */
#define fr_debug(...) fr_log(2, __VA_ARGS__)

#endif
