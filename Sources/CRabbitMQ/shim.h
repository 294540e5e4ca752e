// librabbitmq (rabbitmq-c 0.11), the maintained C client for AMQP 0-9-1: Debian's
// librabbitmq-dev. A few inline helpers for what Swift cannot call or import: the variadic
// amqp_login, and method numbers defined as casts in macros.
#include <amqp.h>
#include <amqp_framing.h>
#include <amqp_tcp_socket.h>

static inline amqp_rpc_reply_t lab_amqp_login(amqp_connection_state_t state, const char *vhost,
                                              const char *user, const char *password) {
    return amqp_login(state, vhost, 0, AMQP_DEFAULT_FRAME_SIZE, 0, AMQP_SASL_METHOD_PLAIN, user, password);
}

static const uint32_t LAB_AMQP_BASIC_DELIVER = AMQP_BASIC_DELIVER_METHOD;
static const uint32_t LAB_AMQP_BASIC_GET_OK = AMQP_BASIC_GET_OK_METHOD;
static const uint32_t LAB_AMQP_BASIC_GET_EMPTY = AMQP_BASIC_GET_EMPTY_METHOD;
static const uint32_t LAB_AMQP_BASIC_ACK = AMQP_BASIC_ACK_METHOD;
static const uint32_t LAB_AMQP_BASIC_NACK = AMQP_BASIC_NACK_METHOD;
static const uint32_t LAB_AMQP_BASIC_RETURN = AMQP_BASIC_RETURN_METHOD;
static const uint32_t LAB_AMQP_CHANNEL_CLOSE = AMQP_CHANNEL_CLOSE_METHOD;
static const uint32_t LAB_AMQP_CONNECTION_CLOSE = AMQP_CONNECTION_CLOSE_METHOD;
static const uint16_t LAB_AMQP_REPLY_SUCCESS = AMQP_REPLY_SUCCESS;
