export function postgresSchemaText(sqliteText: string): string
