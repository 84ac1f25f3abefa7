// Copy to secrets.h (keep it out of version control) and fill in.
#pragma once
#define WIFI_SSID "your-network"
#define WIFI_PASSWORD "your-password"
#define TENDRIL_HOST "tendril.example.com"
#define TENDRIL_PORT 8883                              // `tendril serve --mqtt-port 8883 --tls-cert … --tls-key …`
#define TENDRIL_KEY "tdl_REPLACE_WITH_THE_CONTROLLER_KEY"
#define TENDRIL_TOPIC "acme/greenhouse/esp32-1"        // the controller's path without the leading slash
// The CA that signed the server's certificate (PEM), e.g. ISRG Root X1 for Let's Encrypt.
static const char TENDRIL_CA_PEM[] = R"(-----BEGIN CERTIFICATE-----
...
-----END CERTIFICATE-----
)";
