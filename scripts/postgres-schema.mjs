// prisma/schema.prisma is written for SQLite; the PostgreSQL variant differs only in its provider
// and its client's output folder. The one definition of that switch.
export function postgresSchemaText(sqliteText) {
  const text = sqliteText
    .replace(/provider\s*=\s*"sqlite"/, 'provider = "postgresql"')
    .replace(/output(\s*)=\s*"\.\.\/generated\/sqlite"/, 'output$1= "./postgresql"')
  // a missed switch would write the PostgreSQL client over the SQLite one
  if (!text.includes('provider = "postgresql"') || !/output\s*= "\.\/postgresql"/.test(text))
    throw new Error('postgresSchemaText: schema.prisma no longer has the provider and output lines it switches')
  return text
}
