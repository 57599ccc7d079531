/* PCRE2 (Debian libpcre2-dev) with 8-bit code units: the tokenizer's regexes run on UTF-8. */
#ifndef LONGEMBED_CPCRE2_SHIM_H
#define LONGEMBED_CPCRE2_SHIM_H
#define PCRE2_CODE_UNIT_WIDTH 8
#include <pcre2.h>
#endif
