// What a person pastes into a device to connect it with a new key: the SDK's tendril.json, the
// unmodified rhizo client's config.yaml and a mosquitto_pub line (docs/mqtt.md: user "key", the key
// as password). Built in the page from the key just created; never stored anywhere.

export interface Snippet {
  id: string
  title: string
  /** what the text is, for the copy button and the code block's label */
  what: string
  text: string
  hint: string
}

/** A word for a POSIX shell in single quotes ('…'\''…' for a quote inside). */
const shellQuote = (word: string) => `'${word.replace(/'/g, `'\\''`)}'`

/** A YAML string in double quotes (JSON's escapes are YAML's). */
const yamlString = (text: string) => JSON.stringify(text)

export function setupSnippets(controllerPath: string, key: string, where: Location = location): Snippet[] {
  const secure = where.protocol === 'https:'
  const server = `${where.protocol}//${where.host}`
  const topic = controllerPath.replace(/^\//, '')
  const bareHost = where.hostname.replace(/^\[|\]$/g, '') // an IPv6 address is bracketed in a URL, bare for -h
  return [
    {
      id: 'sdk',
      title: 'Controllers SDK (tendril.json)',
      what: 'the SDK settings',
      text: JSON.stringify({ server, key, controllerPath }, null, 2) + '\n',
      hint: 'Save as tendril.json next to your program (mode 600); provision({ server, configFile: "tendril.json" }) reads it, or pass server and key to connect().',
    },
    {
      id: 'rhizo',
      title: 'rhizo client (config.yaml)',
      what: 'the rhizo config.yaml',
      text: [
        `server_name: ${yamlString(where.host)}`,
        `secure_server: ${secure}`,
        `secret_key: ${yamlString(key)}`,
        'enable_ws: true',
        '',
      ].join('\n'),
      hint: 'For the unmodified rhizo Python client. For MQTT instead of its websocket, add mqtt_host, mqtt_port and mqtt_tls (see firmware-examples/rhizo-client).',
    },
    {
      id: 'mosquitto',
      title: 'mosquitto_pub',
      what: 'the mosquitto_pub command',
      text: `mosquitto_pub -h ${shellQuote(bareHost)} -p 1883 -u key -P ${shellQuote(key)} -t ${shellQuote(topic + '/log')} -m 'hello from mosquitto_pub'\n`,
      hint: "Stores a line in the controller's log. 1883 is the server's usual MQTT port (--mqtt-port); add --capath /etc/ssl/certs and its TLS port when it uses TLS.",
    },
  ]
}
