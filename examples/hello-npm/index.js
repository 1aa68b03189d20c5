'use strict'

// Says hello. The package exists to be packed and attested.
module.exports = function hello (name = 'world') {
  return `hello, ${name}`
}
