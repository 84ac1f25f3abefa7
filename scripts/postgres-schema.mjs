// prisma/schema.prisma is written for SQLite; the PostgreSQL variant differs only in its provider
// and its client's output folder. The one definition of that switch.
export function postgresSchemaText(sqliteText) {
  return sqliteText
    .replace(/provider\s*=\s*"sqlite"/, 'provider = "postgresql"')
    .replace('output       = "../generated/sqlite"', 'output       = "./postgresql"')
}
