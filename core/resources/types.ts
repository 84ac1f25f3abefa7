// rhizo's numbers for resource types, permission entries and access levels (docs/architecture.md).
export const ResourceType = {
  basicFolder: 10,
  organizationFolder: 11,
  controllerFolder: 12,
  remoteFolder: 13,
  file: 20,
  sequence: 21,
  app: 22,
} as const
export type ResourceTypeNumber = (typeof ResourceType)[keyof typeof ResourceType]

export const isFolderType = (type: number) => type >= 10 && type < 20

export const PermissionType = {
  public: 100,
  orgUsers: 110,
  orgControllers: 120,
  user: 130,
  controller: 140,
} as const

export const AccessLevel = { none: 0, read: 10, write: 20 } as const
export type AccessLevelNumber = (typeof AccessLevel)[keyof typeof AccessLevel]

export const SequenceDataType = { numeric: 1, text: 2, image: 3 } as const
