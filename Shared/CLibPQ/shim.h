// PropDesk's only door to libpq. Swift code imports CLibPQ, never libpq-fe.h.
#ifndef PROPDESK_CLIBPQ_SHIM_H
#define PROPDESK_CLIBPQ_SHIM_H
#include <libpq-fe.h>

// Diagnostic field codes are character macros; give Swift typed constants.
static const int PROPDESK_DIAG_SQLSTATE = PG_DIAG_SQLSTATE;
static const int PROPDESK_DIAG_MESSAGE_PRIMARY = PG_DIAG_MESSAGE_PRIMARY;
static const int PROPDESK_DIAG_MESSAGE_DETAIL = PG_DIAG_MESSAGE_DETAIL;
static const int PROPDESK_DIAG_CONSTRAINT_NAME = PG_DIAG_CONSTRAINT_NAME;

#endif
