// PropDesk's only door to rabbitmq-c. Swift code imports CRabbitMQ, never the headers.
#ifndef PROPDESK_CRABBITMQ_SHIM_H
#define PROPDESK_CRABBITMQ_SHIM_H

// rabbitmq-c 0.12+ installs its headers under rabbitmq-c/; Debian 12's 0.11 has them flat.
#if __has_include(<rabbitmq-c/amqp.h>)
#include <rabbitmq-c/amqp.h>
#include <rabbitmq-c/tcp_socket.h>
#include <rabbitmq-c/framing.h>
#else
#include <amqp.h>
#include <amqp_tcp_socket.h>
#include <amqp_framing.h>
#endif
#include <stdint.h>
#include <string.h>

// amqp_login is variadic, which Swift cannot call: fix the SASL method to PLAIN here.
static inline amqp_rpc_reply_t propdesk_amqp_login(amqp_connection_state_t state, const char *vhost,
                                                   int channel_max, int frame_max, int heartbeat,
                                                   const char *user, const char *password) {
    return amqp_login(state, vhost, channel_max, frame_max, heartbeat, AMQP_SASL_METHOD_PLAIN, user, password);
}

// Method numbers and property flags are cast macros, which Swift does not import.
static const amqp_method_number_t PROPDESK_BASIC_DELIVER = AMQP_BASIC_DELIVER_METHOD;
static const amqp_method_number_t PROPDESK_BASIC_ACK = AMQP_BASIC_ACK_METHOD;
static const amqp_method_number_t PROPDESK_BASIC_NACK = AMQP_BASIC_NACK_METHOD;
static const amqp_method_number_t PROPDESK_BASIC_RETURN = AMQP_BASIC_RETURN_METHOD;
static const amqp_method_number_t PROPDESK_BASIC_CANCEL = AMQP_BASIC_CANCEL_METHOD;
static const amqp_method_number_t PROPDESK_BASIC_CANCEL_OK = AMQP_BASIC_CANCEL_OK_METHOD;
static const amqp_method_number_t PROPDESK_CHANNEL_CLOSE = AMQP_CHANNEL_CLOSE_METHOD;
static const amqp_method_number_t PROPDESK_CONNECTION_CLOSE = AMQP_CONNECTION_CLOSE_METHOD;
static const amqp_method_number_t PROPDESK_CONNECTION_BLOCKED = AMQP_CONNECTION_BLOCKED_METHOD;
static const amqp_method_number_t PROPDESK_CONNECTION_UNBLOCKED = AMQP_CONNECTION_UNBLOCKED_METHOD;

static const amqp_flags_t PROPDESK_FLAG_CONTENT_TYPE = AMQP_BASIC_CONTENT_TYPE_FLAG;
static const amqp_flags_t PROPDESK_FLAG_HEADERS = AMQP_BASIC_HEADERS_FLAG;
static const amqp_flags_t PROPDESK_FLAG_DELIVERY_MODE = AMQP_BASIC_DELIVERY_MODE_FLAG;
static const amqp_flags_t PROPDESK_FLAG_CORRELATION_ID = AMQP_BASIC_CORRELATION_ID_FLAG;
static const amqp_flags_t PROPDESK_FLAG_MESSAGE_ID = AMQP_BASIC_MESSAGE_ID_FLAG;
static const amqp_flags_t PROPDESK_FLAG_TIMESTAMP = AMQP_BASIC_TIMESTAMP_FLAG;
static const amqp_flags_t PROPDESK_FLAG_TYPE = AMQP_BASIC_TYPE_FLAG;
static const amqp_flags_t PROPDESK_FLAG_APP_ID = AMQP_BASIC_APP_ID_FLAG;

// Field values: fill the union from Swift without touching it directly.
static inline amqp_field_value_t propdesk_field_utf8(amqp_bytes_t bytes) {
    amqp_field_value_t v; memset(&v, 0, sizeof v); v.kind = AMQP_FIELD_KIND_UTF8; v.value.bytes = bytes; return v;
}
static inline amqp_field_value_t propdesk_field_i64(int64_t i) {
    amqp_field_value_t v; memset(&v, 0, sizeof v); v.kind = AMQP_FIELD_KIND_I64; v.value.i64 = i; return v;
}
static inline amqp_field_value_t propdesk_field_bool(int b) {
    amqp_field_value_t v; memset(&v, 0, sizeof v); v.kind = AMQP_FIELD_KIND_BOOLEAN; v.value.boolean = b ? 1 : 0; return v;
}
static inline amqp_field_value_t propdesk_field_table(amqp_table_t t) {
    amqp_field_value_t v; memset(&v, 0, sizeof v); v.kind = AMQP_FIELD_KIND_TABLE; v.value.table = t; return v;
}

// The decoded method payloads, typed (Swift sees only void *).
static inline const amqp_basic_deliver_t *propdesk_as_deliver(const amqp_method_t *m) { return (const amqp_basic_deliver_t *)m->decoded; }
static inline const amqp_basic_ack_t *propdesk_as_ack(const amqp_method_t *m) { return (const amqp_basic_ack_t *)m->decoded; }
static inline const amqp_basic_nack_t *propdesk_as_nack(const amqp_method_t *m) { return (const amqp_basic_nack_t *)m->decoded; }
static inline const amqp_basic_return_t *propdesk_as_return(const amqp_method_t *m) { return (const amqp_basic_return_t *)m->decoded; }
static inline const amqp_channel_close_t *propdesk_as_channel_close(const amqp_method_t *m) { return (const amqp_channel_close_t *)m->decoded; }
static inline const amqp_connection_close_t *propdesk_as_connection_close(const amqp_method_t *m) { return (const amqp_connection_close_t *)m->decoded; }
static inline const amqp_basic_cancel_t *propdesk_as_cancel(const amqp_method_t *m) { return (const amqp_basic_cancel_t *)m->decoded; }

#endif
