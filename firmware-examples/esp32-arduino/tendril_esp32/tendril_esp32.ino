// ESP32 (Arduino core) -> Tendril over MQTT with TLS, using PubSubClient.
// Every INTERVAL_MS it publishes "s,temperature,<UTC time>,<value>" (rhizo's CSV form) to the
// controller's topic, sends a watchdog message, and answers {"set_interval": {"seconds": N}}.
// Libraries: PubSubClient (Nick O'Leary) 2.8+, ArduinoJson 7. Put your settings in secrets.h.
#include <WiFi.h>
#include <WiFiClientSecure.h>
#include <PubSubClient.h>
#include <ArduinoJson.h>
#include <time.h>
#include "secrets.h"  // WIFI_SSID, WIFI_PASSWORD, TENDRIL_HOST, TENDRIL_PORT, TENDRIL_KEY, TENDRIL_TOPIC, TENDRIL_CA_PEM

WiFiClientSecure tls;
PubSubClient mqtt(tls);
unsigned long intervalMs = 60000;
unsigned long lastSend = 0;

// ISO 8601 UTC from the NTP-set clock: values carry the time they were measured.
bool utcNow(char *out, size_t size) {
  time_t now = time(nullptr);
  if (now < 1700000000) return false;  // clock not set yet
  struct tm t;
  gmtime_r(&now, &t);
  strftime(out, size, "%Y-%m-%dT%H:%M:%SZ", &t);
  return true;
}

void onMessage(char *topic, byte *payload, unsigned int length) {
  JsonDocument doc;
  if (deserializeJson(doc, payload, length)) return;  // CSV "d," announcements and other forms: ignored
  JsonVariant seconds = doc["set_interval"]["seconds"];
  if (seconds.is<unsigned long>() && seconds.as<unsigned long>() >= 1) intervalMs = seconds.as<unsigned long>() * 1000UL;
}

void connectMqtt() {
  while (!mqtt.connected()) {
    String clientId = "esp32-" + String((uint32_t)ESP.getEfuseMac(), HEX);
    // user name "key", password = the controller's API key
    if (mqtt.connect(clientId.c_str(), "key", TENDRIL_KEY)) {
      mqtt.subscribe(TENDRIL_TOPIC);
    } else {
      // state 4/5: the key was refused — check TENDRIL_KEY; otherwise the network or the server
      Serial.printf("mqtt connect failed, state %d; retrying in 5 s\n", mqtt.state());
      delay(5000);
    }
  }
}

float readTemperature() {
  return temperatureRead();  // the ESP32's internal sensor; replace with your sensor
}

void setup() {
  Serial.begin(115200);
  WiFi.begin(WIFI_SSID, WIFI_PASSWORD);
  while (WiFi.status() != WL_CONNECTED) delay(250);
  configTime(0, 0, "pool.ntp.org");
  tls.setCACert(TENDRIL_CA_PEM);  // verify the server: never setInsecure() in production
  mqtt.setServer(TENDRIL_HOST, TENDRIL_PORT);
  mqtt.setBufferSize(512);  // PubSubClient's default 256 bytes is short for JSON messages
  mqtt.setCallback(onMessage);
}

void loop() {
  if (!mqtt.connected()) connectMqtt();
  mqtt.loop();
  char stamp[32];
  if (millis() - lastSend >= intervalMs && utcNow(stamp, sizeof stamp)) {
    lastSend = millis();
    char line[96];
    snprintf(line, sizeof line, "s,temperature,%s,%.2f", stamp, readTemperature());
    mqtt.publish(TENDRIL_TOPIC, line);  // PubSubClient publishes QoS 0 only: see README
    mqtt.publish(TENDRIL_TOPIC, "{\"watchdog\":{}}");
  }
}
