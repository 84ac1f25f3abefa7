# Copy to config.py and fill in.
WIFI_SSID = 'your-network'
WIFI_PASSWORD = 'your-password'
HOST = 'tendril.example.com'
PORT = 8883          # Tendril's MQTT TLS port (tendril serve --mqtt-port 8883 --tls-cert … --tls-key …)
SSL = True
KEY = 'tdl_REPLACE_WITH_THE_CONTROLLER_KEY'
TOPIC = 'acme/greenhouse/pico-1'   # the controller's path without the leading slash
CLIENT_ID = 'pico-1'
INTERVAL_SECONDS = 60
