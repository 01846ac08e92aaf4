// Loaded with NODE_OPTIONS=--require by hostnameEnv() (cli.ts): the CLI of this process sees
// TEST_HOSTNAME as the host name, so that two scratch machines on one host have two device names.
const os = require('node:os');

const name = process.env.TEST_HOSTNAME;
if (name !== undefined && name !== '') os.hostname = () => name;
