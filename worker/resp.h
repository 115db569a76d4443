/* resp.h — Redis commands in the RESP wire format (an array of bulk strings), written
 * into the caller's buffer, so a batch of commands can be built without an allocation
 * per command and handed to hiredis in one piece (redisAppendFormattedCommand).
 *
 * The bytes are those hiredis' redisFormatCommandArgv makes for the same arguments:
 * "*<argc>\r\n" then "$<len>\r\n<bytes>\r\n" per argument (arguments may hold any
 * bytes, NUL included). No allocation, no state. */
#ifndef BUZZRADAR_RESP_H
#define BUZZRADAR_RESP_H

#include <stddef.h>

/* The encoded length of one command of argc >= 1 arguments (argvlen[i] bytes each). */
size_t resp_command_len(int argc, const size_t *argvlen);

/* Writes the command into out, which must hold resp_command_len(argc, argvlen) bytes
 * (no NUL is added). Returns the bytes written. */
size_t resp_command_write(char *out, int argc, const char *const *argv, const size_t *argvlen);

#endif
